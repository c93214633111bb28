export { ResNet, BasicBlock, Bottleneck, resnet18, resnet34, resnet50, type ResNetOptions, type ResNetDepth } from './resnet.js';
