/**
 * `node scripts/check-readme-links.mjs <README.md> <repository root>`: fails when the README links to
 * a file by a relative path (dead on npm and in node_modules, where only the tarball exists), or links
 * into this repository (https://github.com/data-buffer/data-buffer/blob|raw/main/…) to a file that does
 * not exist in the working tree, or to an anchor (`#options`) that no heading has. Other sites pass.
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
// Headings' anchors as GitHub and npm make them: lower case, punctuation dropped, spaces as hyphens.
const anchors = new Set();
for (const [, heading] of text.matchAll(/^#{1,6} (.+)$/gm)) {
  const slug = heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
  let unique = slug;
  for (let n = 1; anchors.has(unique); n++) unique = `${slug}-${n}`;
  anchors.add(unique);
}
const problems = [];
let count = 0;
for (const [, target] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
  count++;
  if (target.startsWith('#')) {
    if (!anchors.has(target.slice(1))) problems.push(`${target}: no heading has this anchor`);
    continue;
  }
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
