import { expect, test } from "bun:test";
import { textTable } from "~/lib/table";
import { cleanUpAfterFile } from "../helpers";

cleanUpAfterFile();

test("control characters in a cell (a client-chosen model name) reach the terminal as U+FFFD, never as escape sequences", () => {
  const hostile = "gpt-4o\u001b[2J\u001b]0;pwned\u0007\r\nkey_admin  9999\u009b31m";
  const table = textTable(["model", "requests"], [[hostile, "3"]], { numeric: true });
  const controls = [...table].filter((ch) => ch !== "\n" && (ch < " " || (ch >= "\u007f" && ch <= "\u009f")));
  expect(controls).toEqual([]);
  expect(table.split("\n")).toHaveLength(2); // no forged line
  expect(table).toContain("gpt-4o\uFFFD[2J\uFFFD]0;pwned\uFFFD\uFFFD\uFFFDkey_admin  9999\uFFFD31m");
});
