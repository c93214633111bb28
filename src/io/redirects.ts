/**
 * Which HTTP redirects a download follows: only to https (or within the first address's own
 * origin, e.g. a test server on 127.0.0.1), and only to that address's host or a listed one
 * ("huggingface.co", or "*.hf.co" for any subdomain). A pinned hash already guards the bytes;
 * this keeps a compromised or misconfigured server from sending the client anywhere.
 */

/** Whether host matches one of the patterns (exact, or "*.suffix" for subdomains). */
export function hostListed(host: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.startsWith('*.') ? host.endsWith(p.slice(1)) : host === p));
}

/** Why following a redirect from the download that began at `origin` to `to` is refused, or null. */
export function redirectProblem(origin: URL, to: URL, allowedHosts: readonly string[] = []): string | null {
  const sameOrigin = to.origin === origin.origin;
  if (to.protocol !== 'https:' && !sameOrigin) return `a redirect to ${to.href} was refused: it is not https`;
  if (to.hostname !== origin.hostname && !hostListed(to.hostname, allowedHosts)) {
    return `a redirect to ${to.href} was refused: ${to.hostname} is neither ${origin.hostname} nor a listed host${allowedHosts.length ? ` (${allowedHosts.join(', ')})` : ''}`;
  }
  return null;
}
