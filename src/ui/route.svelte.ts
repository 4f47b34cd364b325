/**
 * The studio's screens as hash routes (`#/data`, `#/model`, …): the browser's back button moves between them and a
 * reload opens the same screen. The five steps come in order; the side menu's pages stand apart.
 */
export const STEPS = [
  { id: 'data', label: 'Data' },
  { id: 'model', label: 'Model' },
  { id: 'train', label: 'Train' },
  { id: 'evaluate', label: 'Evaluate' },
  { id: 'use', label: 'Use & export' },
] as const;

export const PAGES = [
  { id: 'runs', label: 'Runs' },
  { id: 'registry', label: 'Registry' },
  { id: 'storage', label: 'Storage' },
  { id: 'settings', label: 'Settings' },
] as const;

export type StepId = (typeof STEPS)[number]['id'];
export type PageId = (typeof PAGES)[number]['id'];
export type RouteId = StepId | PageId;

const ROUTES: readonly { id: RouteId; label: string }[] = [...STEPS, ...PAGES];

/** The route a hash names; the first step for an empty or unknown hash. */
export function parseRoute(hash: string): RouteId {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return ROUTES.find((r) => r.id === id)?.id ?? 'data';
}

export const routeHref = (id: RouteId): string => `#/${id}`;

/** The tab's title on a screen, so a tab (and the history menu) says where it is. */
export function routeTitle(id: RouteId): string {
  const r = ROUTES.find((x) => x.id === id)!;
  const step = STEPS.findIndex((s) => s.id === id);
  return step >= 0 ? `${step + 1}. ${r.label} · MRI Studio` : `${r.label} · MRI Studio`;
}

/** The step after `id`, for a screen's "Next" link; null on the last step and on the side pages. */
export function nextStep(id: RouteId): (typeof STEPS)[number] | null {
  const i = STEPS.findIndex((s) => s.id === id);
  return i >= 0 && i < STEPS.length - 1 ? STEPS[i + 1] : null;
}

/** The current route, following the location's hash. */
export class Router {
  current = $state<RouteId>('data');

  constructor(private readonly win: Window = window) {
    this.current = parseRoute(win.location.hash);
    win.addEventListener('hashchange', () => (this.current = parseRoute(win.location.hash)));
  }

  go(id: RouteId): void {
    this.win.location.hash = routeHref(id);
  }
}
