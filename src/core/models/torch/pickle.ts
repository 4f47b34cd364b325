/**
 * A pickle reader that executes nothing: a stack machine over the opcodes `torch.save(state_dict)` writes
 * (protocols 2–4), where a GLOBAL is only a name. The caller's `globals` map decides what each allowed name
 * builds; any other name, and any opcode outside the list, is refused by name before anything is built from it.
 * (npm's generic pickle parsers build placeholder objects for unknown classes and apply BUILD state with
 * Object.assign; a checkpoint reader needs the opposite default.)
 */

export class UnsafePickleError extends Error {
  override name = 'UnsafePickleError';
}

/** What REDUCE / NEWOBJ call: the allowed global's meaning, given its arguments. */
export type PickleGlobal = (...args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** Allowed globals by `module.name`; nothing else may appear in the file. */
  globals: ReadonlyMap<string, PickleGlobal>;
  /** BINPERSID's resolver (torch: a storage record → its bytes). */
  persistentLoad: (pid: unknown) => unknown;
}

/** A Python dict read from the pickle: keys in order (an OrderedDict too), with whatever state BUILD gave it. */
export class PickleDict extends Map<unknown, unknown> {
  state: unknown = undefined;
}

const MARK = Symbol('mark');

const decoder = new TextDecoder('utf-8', { fatal: true });

export function unpickle(bytes: Uint8Array, { globals, persistentLoad }: UnpickleOptions): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();

  const need = (n: number) => {
    if (pos + n > bytes.length) throw new UnsafePickleError(`the pickle ends in the middle of a value (at byte ${pos})`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const raw = (n: number) => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const text = (n: number) => decoder.decode(raw(n));
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new UnsafePickleError('the pickle ends inside a name');
    const s = decoder.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) throw new UnsafePickleError('the pickle pops an empty stack');
    return stack.pop();
  };
  const top = () => stack[stack.length - 1];
  const popMark = (): unknown[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) throw new UnsafePickleError('the pickle closes a mark it never opened');
    const items = stack.slice(at + 1);
    stack.length = at;
    return items;
  };
  const resolve = (module: string, name: string): PickleGlobal => {
    const fn = globals.get(`${module}.${name}`);
    if (!fn) throw new UnsafePickleError(`the file asks for ${module}.${name}, which a weights file has no use for: refused (only tensors and their standard rebuild functions load)`);
    return fn;
  };
  const call = (fn: unknown, args: unknown) => {
    if (typeof fn !== 'function' || !Array.isArray(args)) throw new UnsafePickleError('the pickle calls something that is not an allowed global');
    return (fn as PickleGlobal)(...args);
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!(dict instanceof PickleDict)) throw new UnsafePickleError('the pickle sets items on something that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i], items[i + 1]);
  };
  const long = (b: Uint8Array): number => {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length > 0 && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new UnsafePickleError('the pickle holds an integer too large for a tensor size');
    return Number(v);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME: a length prefix only
        raw(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw new UnsafePickleError('the pickle stops with a malformed stack');
        return stack[0];
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PickleDict());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) throw new UnsafePickleError('the pickle appends to something that is not a list');
        list.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) throw new UnsafePickleError('the pickle appends to something that is not a list');
        list.push(...items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(long(raw(u8())));
        break;
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(text(u8()));
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) throw new UnsafePickleError(`the pickle reads memo ${key}, which it never wrote`);
        stack.push(memo.get(key));
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(resolve(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new UnsafePickleError('the pickle names a global with something other than text');
        stack.push(resolve(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args), which for the allowed classes is construction
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD: only a dict's extra state (OrderedDict's _metadata); nothing else takes state
        const state = pop();
        const obj = top();
        if (!(obj instanceof PickleDict)) throw new UnsafePickleError('the pickle sets the state of an object other than a dict');
        obj.state = state;
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistentLoad(pop()));
        break;
      default:
        throw new UnsafePickleError(`pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${pos - 1} is not one a weights file uses: refused`);
    }
  }
}
