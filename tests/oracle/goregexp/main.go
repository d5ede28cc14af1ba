// Command goregexp prints Go's verdict on regular expressions: the oracle the webhook's
// `regex:` stage-name validation is tested against (tests/kargo/test_regex_oracle.py).
//
// Kargo validates a `regex:`/`regexp:` stage name with regexp.Compile, after Go's JSON decoder
// has read the ProjectConfig; this reads each pattern the same way. Input: one JSON string per
// line on stdin. Output: one JSON object per line on stdout, in the same order,
// {"ok": true} or {"ok": false, "error": "<err.Error()>"}.
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
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func main() {
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
