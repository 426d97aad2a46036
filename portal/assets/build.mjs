// Builds portal/static from GOV.UK Frontend (npm) and portal/assets.
import { cpSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as sass from 'sass'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const govuk = join(root, 'node_modules', 'govuk-frontend', 'dist', 'govuk')
const out = join(root, 'portal', 'static')

mkdirSync(join(out, 'govuk'), { recursive: true })
const css = sass.compile(join(here, 'portal.scss'), {
  style: 'compressed',
  importers: [new sass.NodePackageImporter()],
  quietDeps: true,
  silenceDeprecations: ['import']
})
writeFileSync(join(out, 'portal.css'), css.css)
cpSync(join(govuk, 'govuk-frontend.min.js'), join(out, 'govuk', 'govuk-frontend.min.js'))
cpSync(join(here, 'portal.js'), join(out, 'portal.js'))
cpSync(join(here, 'mark.svg'), join(out, 'mark.svg'))
console.log('assets built in', out)
