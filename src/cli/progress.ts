// One line of progress on a terminal's stderr, rewritten in place; nothing at all when stderr is not a terminal.

export interface Progress {
  show(text: string): void;
  clear(): void;
}

export function progressLine(stream: NodeJS.WritableStream & { isTTY?: boolean }): Progress {
  if (!stream.isTTY) return { show: () => undefined, clear: () => undefined };
  let shown = false;
  return {
    show(text) {
      stream.write(`\r\x1b[K${text}`);
      shown = true;
    },
    clear() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
