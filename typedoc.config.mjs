/**
 * TypeDoc: the API reference as Markdown in docs/api/ (committed, so it reads on the repository's
 * pages; CI regenerates it and fails when the committed copy is stale). Entry points come from the one
 * list in scripts/entry-points.mjs.
 */
import { entryPoints } from './scripts/entry-points.mjs';

/** @type {Partial<import('typedoc').TypeDocOptions> & Record<string, unknown>} */
const config = {
  name: 'data-buffer',
  entryPoints: Object.values(entryPoints),
  out: 'docs/api',
  plugin: ['typedoc-plugin-markdown'],
  tsconfig: 'tsconfig.json',
  excludePrivate: true,
  excludeProtected: true,
  excludeInternal: true,
  excludeExternals: true,
  readme: 'none',
  sort: ['source-order'],
  validation: { notExported: true, invalidLink: true, invalidPath: true, notDocumented: true },
  treatWarningsAsErrors: true,
  disableSources: true,
  skipErrorChecking: true,
  // Markdown output: one page per module, class and interface; the index is docs/api/README.md.
  entryFileName: 'README.md',
  outputFileStrategy: 'members',
  hidePageHeader: true,
  hideBreadcrumbs: false,
  useCodeBlocks: true,
  parametersFormat: 'table',
  interfacePropertiesFormat: 'table',
  classPropertiesFormat: 'table',
  enumMembersFormat: 'table',
  typeDeclarationFormat: 'table',
  propertyMembersFormat: 'table',
};

export default config;
