import { describe, expect, it } from 'vitest';
import { strategyDefaults } from '../../src/core/models/strategies';
import { BUILTIN_ZOO, MODEL_ZOO, normalizationFor } from '../../src/core/models/zoo';

describe('model zoo', () => {
  it('lists the from-scratch CNN, every MobileNet width at 224, Xception, the from-scratch architectures and their ImageNet weights, once each', () => {
    expect(MODEL_ZOO.map((e) => e.id)).toEqual([
      'simple_cnn',
      'mobilenet_v1_0.25_224',
      'mobilenet_v1_0.50_224',
      'mobilenet_v1_0.75_224',
      'mobilenet_v1_1.0_224',
      'mobilenet_v2_0.35_224',
      'mobilenet_v2_0.50_224',
      'mobilenet_v2_0.75_224',
      'mobilenet_v2_1.00_224',
      'xception',
      'resnet18',
      'resnet50',
      'efficientnet_b0',
      'vit_b16',
      'vit_s16',
      'vit_ti16',
      'swin_t',
      'swin_s',
      'swin_nano',
      'resnet18_imagenet',
      'resnet50_imagenet',
      'efficientnet_b0_imagenet',
      'vit_b16_imagenet',
      'swin_t_imagenet',
      'swin_s_imagenet',
    ]);
  });

  it('lists torchvision ImageNet weights at their official URLs with the SHA-256 prefix of the name, ImageNet mean/std', () => {
    expect(BUILTIN_ZOO.entry('vit_b16_imagenet')).toMatchObject({
      family: 'vit',
      inputSize: 224,
      params: BUILTIN_ZOO.entry('vit_b16').params,
      source: { kind: 'torchvision', architecture: 'vit_b16', url: 'https://download.pytorch.org/models/vit_b_16-c867db91.pth', sha256: 'c867db91' },
      preprocessing: { scaling: 'fixed', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    });
    expect(BUILTIN_ZOO.entry('efficientnet_b0_imagenet').source).toMatchObject({ url: 'https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth', sha256: '7f5810bc' });
    expect(normalizationFor(BUILTIN_ZOO.entry('resnet50_imagenet'), { mean: [0, 0, 0], std: [1, 1, 1] })).toEqual({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
  });

  it("takes Xception's weights from Keras's official .h5, [-1, 1]-scaled at 299 px", () => {
    expect(BUILTIN_ZOO.entry('xception')).toMatchObject({
      family: 'xception',
      inputSize: 299,
      preprocessing: { scaling: '[-1,1]' },
      source: { kind: 'keras-h5', url: 'https://storage.googleapis.com/tensorflow/keras-applications/xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5', file: 'xception_weights_tf_dim_ordering_tf_kernels_notop.h5' },
      defaults: { optimizer: 'adamax', learningRate: 1e-3 },
    });
  });

  it('names architecture, width and input size in each id, and matches it to the entry', () => {
    for (const e of MODEL_ZOO.filter((m) => m.source.kind === 'url')) {
      const m = e.id.match(/^(mobilenet_v[12])_(\d\.\d{1,2})_(\d+)$/);
      expect(m, e.id).not.toBeNull();
      expect(m![1]).toBe(e.family);
      expect(Number(m![3])).toBe(e.inputSize);
      expect(e.channels).toBe(3);
      expect(e.params).toBeGreaterThan(100_000);
      expect(e.preprocessing.scaling).toBe('[-1,1]');
      expect(e.name).toContain(m![2]);
    }
  });

  it('points at the official locations: v1 cut at conv_pw_13_relu, v2 without top', () => {
    expect(BUILTIN_ZOO.entry('mobilenet_v1_0.50_224').source).toEqual({
      kind: 'url',
      url: 'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.50_224/model.json',
      cutLayer: 'conv_pw_13_relu',
    });
    expect(BUILTIN_ZOO.entry('mobilenet_v2_1.00_224').source).toEqual({
      kind: 'url',
      url: 'https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.00_224_no_top/model.json',
    });
    expect(BUILTIN_ZOO.entry('simple_cnn')).toMatchObject({ source: { kind: 'builtin' }, preprocessing: { scaling: 'dataset' } });
  });

  it('has usable defaults, and the Xception-Medical recipe for fine-tuning', () => {
    for (const e of MODEL_ZOO) {
      expect(['adamw', 'adam', 'adamax', 'sgd']).toContain(e.defaults.optimizer);
      expect(e.defaults.learningRate).toBeGreaterThan(0);
      expect(Number.isInteger(e.defaults.batchSize)).toBe(true);
    }
    const v2 = BUILTIN_ZOO.entry('mobilenet_v2_0.35_224');
    expect(strategyDefaults(v2, 'frozen')).toEqual({ learningRate: 1e-3, batchSize: 32, optimizer: 'adamw' });
    expect(strategyDefaults(v2, 'finetune')).toEqual({ learningRate: 1e-3, batchSize: 32, optimizer: 'adamax' });
    expect(strategyDefaults(v2, 'mlp')).toEqual({ learningRate: 1e-3, batchSize: 16, optimizer: 'adam' });
  });

  it('scales pretrained inputs to [-1, 1] and normalises the CNN by dataset statistics', () => {
    const stats = { mean: [0.2, 0.2, 0.2], std: [0.1, 0.1, 0.1] };
    expect(normalizationFor(BUILTIN_ZOO.entry('simple_cnn'), stats)).toBe(stats);
    const { mean, std } = normalizationFor(BUILTIN_ZOO.entry('mobilenet_v1_0.25_224'), stats);
    // The trainer computes (x/255 − mean)/std: 0 → −1 and 255 → 1.
    expect((0 - mean[0]) / std[0]).toBe(-1);
    expect((1 - mean[0]) / std[0]).toBe(1);
  });

  it('rejects an unknown id with the list of known ones', () => {
    expect(() => BUILTIN_ZOO.entry('resnet152')).toThrow(/mobilenet_v2_0.35_224, .*resnet50/);
  });
});
