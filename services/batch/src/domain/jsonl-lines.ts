/**
 * Splits a byte stream into lines without holding more than one line at a time, so a file of
 * any size passes through in bounded memory. Lines end at "\n" (a "\r" before it is dropped);
 * a last line without "\n" is still a line. Line numbers are 1-based, as editors show them.
 */
export interface LineSplitter {
  /** Feeds the next chunk; returns the lines it completed. */
  push(chunk: Uint8Array): Line[];
  /** The unterminated last line, if any. */
  end(): Line[];
}

export interface Line {
  readonly number: number;
  readonly text: string;
  /** Bytes of the line, without its line ending. */
  readonly bytes: number;
}

export interface LineSplitterOptions {
  /**
   * A line longer than this is cut off at the limit and reported with `tooLong`, so one
   * giant line cannot take the memory a whole file is allowed. Default 1 MiB.
   */
  readonly maxLineBytes?: number;
}

export class LineTooLongError extends Error {
  constructor(
    readonly line: number,
    readonly limit: number,
  ) {
    super(`line ${line} is longer than ${limit} bytes`);
  }
}

export function createLineSplitter(options: LineSplitterOptions = {}): LineSplitter {
  const maxLineBytes = options.maxLineBytes ?? 1024 * 1024;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let number = 0;

  const take = (tail: Uint8Array): Line => {
    const parts = pendingBytes ? [...pending, tail] : [tail];
    pending = [];
    pendingBytes = 0;
    number++;
    let whole = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (whole.length && whole[whole.length - 1] === 0x0d) whole = whole.subarray(0, whole.length - 1);
    return { number, text: decoder.decode(whole), bytes: whole.length };
  };

  return {
    push(chunk) {
      const lines: Line[] = [];
      let start = 0;
      for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, start)) {
        if (pendingBytes + (i - start) > maxLineBytes) throw new LineTooLongError(number + 1, maxLineBytes);
        lines.push(take(chunk.subarray(start, i)));
        start = i + 1;
      }
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        if (pendingBytes + rest.length > maxLineBytes) throw new LineTooLongError(number + 1, maxLineBytes);
        // Copied: the caller may reuse its buffer.
        pending.push(Uint8Array.from(rest));
        pendingBytes += rest.length;
      }
      return lines;
    },
    end() {
      return pendingBytes ? [take(new Uint8Array(0))] : [];
    },
  };
}
