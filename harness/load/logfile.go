package load

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxErrors is how many of k6's error lines a Result keeps (the last ones).
const maxErrors = 10

// logRecord is what Run reads from k6's log file.
type logRecord struct {
	acked, accepted []Ack
	origin, started time.Time
	errors          []string
}

// logLine is one line of k6's --log-format=json log: the scripts' console
// lines have source "console"; k6's own have none.
type logLine struct {
	Level  string `json:"level"`
	Msg    string `json:"msg"`
	Source string `json:"source"`
	Error  string `json:"error"`
}

func readLogFile(path string) (logRecord, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return logRecord{}, nil // k6 logged nothing
	}
	if err != nil {
		return logRecord{}, fmt.Errorf("reading k6 log: %w", err)
	}
	defer f.Close()
	lg, err := parseLog(f)
	if err != nil {
		return lg, fmt.Errorf("reading k6 log %s: %w", path, err)
	}
	return lg, nil
}

// parseLog reads k6's JSON log: the scripts' "ACK <order_id> <key>",
// "ACCEPTED <order_id> <key>" and "START <origin ms> <start ms>" console
// lines, and k6's own error lines.
func parseLog(r io.Reader) (logRecord, error) {
	var lg logRecord
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	n := 0
	for sc.Scan() {
		n++
		raw := sc.Bytes()
		if len(strings.TrimSpace(string(raw))) == 0 {
			continue
		}
		var l logLine
		if err := json.Unmarshal(raw, &l); err != nil {
			return lg, fmt.Errorf("line %d is not a JSON log line (run k6 with --log-format=json): %w", n, err)
		}
		if l.Source != "console" {
			if l.Level == "error" || l.Level == "fatal" {
				lg.errors = appendBounded(lg.errors, oneLine(l.Msg, l.Error))
			}
			continue
		}
		f := strings.Fields(l.Msg)
		switch {
		case len(f) == 3 && f[0] == "ACK":
			lg.acked = append(lg.acked, Ack{OrderID: f[1], Key: f[2]})
		case len(f) == 3 && f[0] == "ACCEPTED":
			lg.accepted = append(lg.accepted, Ack{OrderID: f[1], Key: f[2]})
		case len(f) == 3 && f[0] == "START":
			origin, err1 := strconv.ParseInt(f[1], 10, 64)
			started, err2 := strconv.ParseInt(f[2], 10, 64)
			if err := errors.Join(err1, err2); err != nil {
				return lg, fmt.Errorf("line %d: bad START line %q: %w", n, l.Msg, err)
			}
			lg.origin, lg.started = time.UnixMilli(origin).UTC(), time.UnixMilli(started).UTC()
		case l.Level == "error":
			lg.errors = appendBounded(lg.errors, oneLine(l.Msg, l.Error))
		}
	}
	if err := sc.Err(); err != nil {
		return lg, err
	}
	return lg, nil
}

// oneLine is a log message, with its error if any, on one line.
func oneLine(msg, err string) string {
	s := strings.TrimSpace(msg)
	if err != "" {
		s += ": " + err
	}
	s, _, _ = strings.Cut(s, "\n\tat ") // the first line of a script's stack trace says it
	return strings.ReplaceAll(s, "\n", " ")
}

func appendBounded(s []string, v string) []string {
	s = append(s, v)
	if len(s) > maxErrors {
		s = s[len(s)-maxErrors:]
	}
	return s
}
