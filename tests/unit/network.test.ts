import { describe, expect, it } from 'vitest';
import { summarizeNetwork, type NetworkRequest } from '../../src/engine/network';

const req = (url: string, bytes = 0, from: NetworkRequest['from'] = 'engine'): NetworkRequest => ({ url, initiator: 'fetch', bytes, from });

describe('summarizeNetwork', () => {
  it('counts the app origin apart from every other host, with what the requests were for', () => {
    const s = summarizeNetwork(
      [
        req('http://127.0.0.1:5173/assets/index.js', 1000, 'page'),
        req('http://127.0.0.1:5173/models/mobilenet_v2_0.35_224/model.json', 50),
        req('https://storage.googleapis.com/teachable-machine-models/x/model.json'),
        req('https://storage.googleapis.com/teachable-machine-models/x/group1-shard1of1.bin'),
        req('https://storage.googleapis.com/tensorflow/keras-applications/xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5'),
        req('blob:http://127.0.0.1:5173/0c1d'),
        req('data:image/png;base64,AAAA'),
      ],
      'http://127.0.0.1:5173',
    );
    expect(s.own).toEqual({ origin: 'http://127.0.0.1:5173', requests: 2, bytes: 1050, purposes: ['the app', 'pretrained weights'] });
    expect(s.elsewhere).toEqual([{ origin: 'https://storage.googleapis.com', requests: 3, bytes: 0, purposes: ['pretrained weights'] }]);
  });

  it('reports nothing elsewhere for a session that only loaded the app', () => {
    expect(summarizeNetwork([req('http://localhost:4173/', 10, 'page')], 'http://localhost:4173').elsewhere).toEqual([]);
  });
});
