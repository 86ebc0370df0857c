// The bottom layer's logging and progress interfaces: every folder of src/ may import this
// file (it imports nothing), so stores and the upload engine can log without reaching up
// into ops/.

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface Progress {
  /** Called often; phase is e.g. "pack", "upload", "download", "unpack". */
  update(phase: string, done: number, total?: number): void;
}
