// Command gomatch prints Go's regexp.MatchString verdicts: the oracle `check`'s Stage matching
// for `regex:` selectors is tested against (tests/commands/test_regex_match_oracle.py).
//
// Kargo's pkg/pattern matches a Stage name with (*regexp.Regexp).MatchString, an unanchored
// search. Input: one JSON array [pattern, name] per line on stdin. Output: one JSON object per
// line on stdout, in the same order: {"match": true|false}, or {"error": "<err.Error()>"} when
// the pattern does not compile.
//
// Standard library only, so it builds with the pinned toolchain and nothing downloaded.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
)

type verdict struct {
	Match bool   `json:"match"`
	Error string `json:"error,omitempty"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gomatch: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 16<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	compiled := map[string]*regexp.Regexp{}
	line := 0
	for in.Scan() {
		line++
		var pair [2]string
		if err := json.Unmarshal(in.Bytes(), &pair); err != nil {
			fail("line %d: %v", line, err)
		}
		re, ok := compiled[pair[0]]
		var v verdict
		if !ok {
			var err error
			re, err = regexp.Compile(pair[0])
			if err != nil {
				v.Error = err.Error()
			} else {
				compiled[pair[0]] = re
			}
		}
		if v.Error == "" {
			v.Match = re.MatchString(pair[1])
		}
		if err := enc.Encode(v); err != nil {
			fail("%v", err)
		}
	}
	if err := in.Err(); err != nil {
		fail("%v", err)
	}
	if err := out.Flush(); err != nil {
		fail("%v", err)
	}
}
