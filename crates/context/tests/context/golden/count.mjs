// Counts each line of texts.jsonl in o200k_base with js-tiktoken and writes
// tokens.json: `npm install js-tiktoken && node count.mjs`.
import { readFileSync, writeFileSync } from "node:fs";
import { Tiktoken } from "js-tiktoken/lite";
import o200k from "js-tiktoken/ranks/o200k_base";

const enc = new Tiktoken(o200k);
const dir = new URL(".", import.meta.url);
const rows = readFileSync(new URL("texts.jsonl", dir), "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => JSON.parse(line))
  .map(({ name, text }) => ({ name, text, tokens: enc.encode(text).length }));
writeFileSync(new URL("tokens.json", dir), JSON.stringify(rows, null, 2) + "\n");
console.log(rows.map((r) => `${r.name}: ${r.tokens}`).join("\n"));
