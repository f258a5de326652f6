/**
 * `node scripts/check-readme-links.mjs <README.md> <repository root>`: fails when the README links to
 * a file by a relative path (dead on npm and in node_modules, where only the tarball exists), or links
 * into this repository (https://github.com/data-buffer/data-buffer/blob|raw/main/…) to a file that does
 * not exist in the working tree. Anchors (`#options`) and other sites pass.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const [readme, root] = process.argv.slice(2);
if (readme === undefined || root === undefined) {
  console.error('usage: node scripts/check-readme-links.mjs <README.md> <repository root>');
  process.exit(2);
}
const repository =
  /^https:\/\/(?:github\.com\/data-buffer\/data-buffer\/(?:blob|tree)|raw\.githubusercontent\.com\/data-buffer\/data-buffer)\/main\/([^#?]*)/;
const text = readFileSync(readme, 'utf8').replace(/```[\s\S]*?```/g, ''); // links in code blocks are code
const problems = [];
let count = 0;
for (const [, target] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
  count++;
  if (target.startsWith('#')) continue;
  const inRepository = repository.exec(target);
  if (inRepository) {
    const file = decodeURIComponent(inRepository[1]);
    if (!existsSync(path.join(root, file))) problems.push(`${target}: ${file} is not in the repository`);
  } else if (!/^[a-z]+:/i.test(target)) {
    problems.push(
      `${target}: a relative link is dead outside the repository; link to the repository instead`,
    );
  }
}
if (problems.length > 0) {
  console.error(`${readme}:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`README links ok (${count} checked)`);
