/**
 * What the studio sends over the network, from the browser's own record (Resource Timing) of every request the
 * page and the engine worker made: the UI's "where bytes go" line reflects what happened, not what we intended.
 */

export interface NetworkRequest {
  url: string;
  /** How the request was made: 'fetch', 'script', 'link', … (Resource Timing's initiatorType). */
  initiator: string;
  /** Bytes received, when the browser may tell (0 for cross-origin responses without Timing-Allow-Origin). */
  bytes: number;
  /** Which thread made it. */
  from: 'page' | 'engine';
}

/** Enough room that a long session keeps its whole record (the default buffer holds 250 entries). */
export const RESOURCE_BUFFER = 100_000;

export function resourceRequests(perf: Performance, from: NetworkRequest['from']): NetworkRequest[] {
  return perf.getEntriesByType('resource').map((e) => {
    const r = e as PerformanceResourceTiming;
    return { url: r.name, initiator: r.initiatorType, bytes: r.transferSize, from };
  });
}

export interface HostTraffic {
  origin: string;
  requests: number;
  bytes: number;
  /** What the requests were for, in words ('pretrained weights', 'the app'). */
  purposes: string[];
}

export interface NetworkSummary {
  /** Requests to the studio's own origin (the app's files, a local models folder). */
  own: HostTraffic;
  /** Every other origin contacted; empty means no byte went anywhere but this site. */
  elsewhere: HostTraffic[];
}

function purpose(url: URL): string {
  if (/\/model\.json$|\.bin$|\.h5$|group\d+-shard|\.pth$|\.safetensors$/.test(url.pathname)) return 'pretrained weights';
  return 'the app';
}

export function summarizeNetwork(requests: readonly NetworkRequest[], appOrigin: string): NetworkSummary {
  const byOrigin = new Map<string, HostTraffic>();
  for (const r of requests) {
    let url: URL;
    try {
      url = new URL(r.url);
    } catch {
      continue;
    }
    // Data and blob URLs (decoded thumbnails, WASM thread scripts) never leave the machine.
    if (url.protocol === 'data:' || url.protocol === 'blob:') continue;
    const host = byOrigin.get(url.origin) ?? { origin: url.origin, requests: 0, bytes: 0, purposes: [] };
    host.requests += 1;
    host.bytes += r.bytes;
    const p = purpose(url);
    if (!host.purposes.includes(p)) host.purposes.push(p);
    byOrigin.set(url.origin, host);
  }
  const own = byOrigin.get(appOrigin) ?? { origin: appOrigin, requests: 0, bytes: 0, purposes: [] };
  byOrigin.delete(appOrigin);
  return { own, elsewhere: [...byOrigin.values()] };
}
