#!/usr/bin/env node
// The `kv-session` command. Sets the exit status and lets Node exit once output is flushed
// (process.exit() could cut a piped stdout short).
import { run } from './run.js';

process.exitCode = await run(process.argv.slice(2));
