// npm install and npm ci build the project (the prepare script). A dry run (`npm ci
// --dry-run`, which checks that the lock file is accepted) installs nothing to build with,
// so there the build is skipped rather than failing on a missing compiler.
import { execSync } from 'node:child_process';

if (process.env.npm_config_dry_run !== 'true') execSync('npm run build', { stdio: 'inherit' });
