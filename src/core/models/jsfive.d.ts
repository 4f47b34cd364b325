/** The part of jsfive (which ships no types) that keras-h5.ts uses. */
declare module 'jsfive' {
  export class Group {
    readonly keys: string[];
    readonly attrs: Record<string, unknown>;
    get(path: string): Group | Dataset | null;
  }
  export class Dataset {
    readonly shape: number[];
    /** numpy's dtype string, e.g. `<f4`. */
    readonly dtype: string;
    readonly value: unknown;
    readonly attrs: Record<string, unknown>;
  }
  export class File extends Group {
    constructor(buffer: ArrayBuffer, filename?: string);
  }
}
