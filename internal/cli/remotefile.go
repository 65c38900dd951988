package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/stack/remote"
)

// runRemoteFile writes the remote endpoints file of a running lab (local,
// or -stack compose): what -stack remote needs to reach it as if it ran
// elsewhere — the way to try the remote stack, and to test it.
func runRemoteFile(_ context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "remote-file", "remote-file [flags]\n\nWrites the remote endpoints file (docs/remote.md) of the running lab — local, or -stack compose — so that\n`chaoslab run -stack remote -remote FILE` reaches it through its URLs only, as a lab running elsewhere.")
	o := labFlags(fs, env)
	var labPath string
	registerLabFile(fs, &labPath)
	outPath := fs.String("o", "", "write the file here (default: standard output)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("remote-file takes no arguments, got %q", fs.Args())
	}
	if err := o.check(); err != nil {
		return err
	}
	if o.stack == stackRemote {
		return usageErr("remote-file describes a lab this machine runs (-stack local or compose); a remote lab has its file already")
	}
	lf, err := loadLabFile(labPath)
	if err != nil {
		return err
	}
	lab, err := o.attach(lf)
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	e := lab.Endpoints()
	if e.JWTKeyFile != "" {
		if e.JWTKeyFile, err = filepath.Abs(e.JWTKeyFile); err != nil {
			return &exitError{code: exitcode.Infra, err: err}
		}
	}
	data, err := remote.FromEndpoints(e).Marshal()
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	if *outPath == "" {
		_, err = env.Stdout.Write(data)
		return err
	}
	if err := os.WriteFile(*outPath, data, 0o644); err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	fmt.Fprintf(env.Stdout, "wrote %s: the endpoints of the %s (run it with -stack remote -remote %s)\n", *outPath, o.describe(), *outPath)
	return nil
}
