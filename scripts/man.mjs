#!/usr/bin/env node
// man.mjs — writes layerkeep(1) in roff on stdout, generated from the CLI's own --help texts
// (top level, every command's, and `serve --help`), so the man page cannot disagree with them.
// Usage: node scripts/man.mjs LAYERKEEP_COMMAND VERSION
import { execFileSync } from 'node:child_process';

const [cli, version] = process.argv.slice(2);
if (!cli || !version) {
  process.stderr.write('usage: node scripts/man.mjs LAYERKEEP_COMMAND VERSION\n');
  process.exit(2);
}

const help = (...args) => execFileSync(cli, [...args, '--help'], { encoding: 'utf8', env: { ...process.env, LAYERKEEP_STANDALONE: '1' } });

/** roff-safe text: backslashes escaped, no line may start with a control character. */
const roff = (text) => text.replace(/\\/g, '\\e').split('\n').map((l) => (/^[.']/.test(l) ? `\\&${l}` : l)).join('\n');
const block = (text) => `.nf\n${roff(text.replace(/\s+$/, ''))}\n.fi\n`;

const top = help();
// Command names: the lines of the "commands:" section that start with two spaces and a word.
const section = top.split(/\n\s*\n/).find((s) => s.startsWith('commands:')) ?? '';
const commands = [...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]);
if (commands.length === 0) throw new Error('no commands found in layerkeep --help');

let out = `.TH LAYERKEEP 1 "" "layerkeep ${version}" "User Commands"
.SH NAME
layerkeep \\- keep a container's writable layer beyond its host
.SH SYNOPSIS
.B layerkeep
.I command
[\\fIoptions\\fR]
.SH DESCRIPTION
layerkeep snapshots a container's overlayfs upper directory into an OCI image layer
(seekable zstd), stores it in a local directory or in S3, and restores it before a container
with the same key starts, on this host or another. The daemon
(\\fBlayerkeep serve\\fR) integrates with Docker, containerd and OCI runtimes; the other
commands work against the same store directly or through the running daemon.
.SH OVERVIEW
${block(top)}.SH COMMANDS
`;
for (const name of commands) {
  if (name === 'serve' || name === 'help' || name === 'version') continue; // serve has its own section; help and version take no flags
  out += `.SS ${name}\n${block(help(name))}`;
}
out += `.SH DAEMON
${block(help('serve'))}.SH FILES
.TP
.I /etc/layerkeep/layerkeep.json
daemon configuration (any \\fBserve\\fR option as a key)
.TP
.I /etc/layerkeep/env
environment for the daemon's systemd unit (S3 credentials), mode 0600
.TP
.I /var/lib/layerkeep
default state directory and local store
.TP
.I /run/layerkeep/layerkeep.sock
the daemon's gRPC socket
.SH EXIT STATUS
0 on success, 1 on failure, 2 on a usage error or invalid input.
.SH SEE ALSO
.BR docker (1),
.BR runc (8),
.BR podman (1)
`;
process.stdout.write(out);
