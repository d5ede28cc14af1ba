// Command goregexp prints Go's verdict on regular expressions: the oracle the webhook's
// `regex:` stage-name validation is tested against (tests/kargo/test_regex_oracle.py).
//
// Kargo validates a `regex:`/`regexp:` stage name with regexp.Compile, after Go's JSON decoder
// has read the ProjectConfig; this reads each pattern the same way. Input: one JSON string per
// line on stdin. Output: one JSON object per line on stdout, in the same order,
// {"ok": true} or {"ok": false, "error": "<err.Error()>"}.
//
// With -unicode-names it prints instead, as one JSON object, the names of the tables
// regexp/syntax's unicodeTable looks `\p{...}` names up in (unicode.Categories,
// unicode.CategoryAliases, unicode.Scripts) and unicode.Version: what the webhook's
// app/kargo/patterns/unicode_names.py must list, and what scripts/gen-unicode-names.py writes there.
//
// Standard library only, so it builds with the pinned toolchain and nothing downloaded.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"unicode"
)

type verdict struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

type unicodeNames struct {
	Version         string   `json:"version"`
	Categories      []string `json:"categories"`
	CategoryAliases []string `json:"categoryAliases"`
	Scripts         []string `json:"scripts"`
}

func printUnicodeNames() {
	names := unicodeNames{
		Version:         unicode.Version,
		Categories:      slices.Sorted(maps.Keys(unicode.Categories)),
		CategoryAliases: slices.Sorted(maps.Keys(unicode.CategoryAliases)),
		Scripts:         slices.Sorted(maps.Keys(unicode.Scripts)),
	}
	if err := json.NewEncoder(os.Stdout).Encode(names); err != nil {
		fmt.Fprintf(os.Stderr, "goregexp: %v\n", err)
		os.Exit(2)
	}
}

func main() {
	names := flag.Bool("unicode-names", false, "print the Unicode table names as JSON and exit")
	flag.Parse()
	if *names {
		printUnicodeNames()
		return
	}
	in := bufio.NewScanner(os.Stdin)
	// Patterns in the tests reach a few MiB (Go's size and nesting limits).
	in.Buffer(make([]byte, 0, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	line := 0
	for in.Scan() {
		line++
		var pattern string
		if err := json.Unmarshal(in.Bytes(), &pattern); err != nil {
			fmt.Fprintf(os.Stderr, "goregexp: line %d: %v\n", line, err)
			os.Exit(2)
		}
		v := verdict{OK: true}
		if _, err := regexp.Compile(pattern); err != nil {
			v = verdict{OK: false, Error: err.Error()}
		}
		if err := enc.Encode(v); err != nil {
			fmt.Fprintf(os.Stderr, "goregexp: %v\n", err)
			os.Exit(2)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "goregexp: %v\n", err)
		os.Exit(2)
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(os.Stderr, "goregexp: %v\n", err)
		os.Exit(2)
	}
}
