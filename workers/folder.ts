/** Turns what the page hands over (a directory handle, or files from an input or a drop) into a FolderSource. */
import type { FolderSource } from '../src/core/dataset/importer';
import type { FolderInput } from '../src/engine/types';

type DirHandle = FileSystemDirectoryHandle & { values(): AsyncIterable<FileSystemHandle> };

/** Walks a directory handle in the worker: the files are read here, never on the main thread. */
async function walk(dir: DirHandle, prefix: string, files: Map<string, FileSystemFileHandle>, dirs: string[], sizes: Map<string, number>): Promise<void> {
  for await (const entry of dir.values()) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.kind === 'directory') {
      dirs.push(path);
      await walk(entry as DirHandle, path, files, dirs, sizes);
    } else {
      const handle = entry as FileSystemFileHandle;
      files.set(path, handle);
      sizes.set(path, (await handle.getFile()).size);
    }
  }
}

export async function folderSource(input: FolderInput): Promise<{ name: string; source: FolderSource }> {
  if (input.kind === 'handle') {
    const files = new Map<string, FileSystemFileHandle>();
    const sizes = new Map<string, number>();
    const directories: string[] = [];
    await walk(input.handle as DirHandle, '', files, directories, sizes);
    return {
      name: input.handle.name,
      source: {
        entries: [...sizes].map(([path, size]) => ({ path, size })),
        directories,
        read: (path) => files.get(path)!.getFile(),
      },
    };
  }
  const byPath = new Map(input.paths.map((p, i) => [p, input.files[i]]));
  return {
    name: input.name,
    source: {
      entries: input.paths.map((path, i) => ({ path, size: input.files[i].size })),
      read: async (path) => byPath.get(path)!,
    },
  };
}
