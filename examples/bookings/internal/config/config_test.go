package config

import (
	"flag"
	"io"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		wantAddr    string
		wantTimeout time.Duration
		wantErr     bool
	}{
		{"defaults", nil, nil, "127.0.0.1:1", time.Second, false},
		{"flags", []string{"-addr", "127.0.0.1:2", "-call-timeout=2s"}, nil, "127.0.0.1:2", 2 * time.Second, false},
		{"env fills what flags do not set", []string{"-addr", "127.0.0.1:2"},
			map[string]string{"SVC_ADDR": "127.0.0.1:3", "SVC_CALL_TIMEOUT": "3s"}, "127.0.0.1:2", 3 * time.Second, false},
		{"a bad env value names the variable", nil, map[string]string{"SVC_CALL_TIMEOUT": "soon"}, "", 0, true},
		{"a positional argument", []string{"extra"}, nil, "", 0, true},
		{"an unknown flag", []string{"-nope"}, nil, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("svc", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			addr := fs.String("addr", "127.0.0.1:1", "")
			timeout := fs.Duration("call-timeout", time.Second, "")
			err := Parse(fs, tt.args, func(k string) string { return tt.env[k] }, "SVC_")
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse: %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (*addr != tt.wantAddr || *timeout != tt.wantTimeout) {
				t.Errorf("addr %s, call-timeout %s; want %s, %s", *addr, *timeout, tt.wantAddr, tt.wantTimeout)
			}
		})
	}
}
