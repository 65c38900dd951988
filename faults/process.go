package faults

import (
	"fmt"
	"slices"
	"time"
)

// The actions of a process fault.
const (
	// ActionKill sends SIGKILL; the service is started again after
	// RestartAfter, or at the end of the phase when RestartAfter is 0.
	ActionKill = "kill"
	// ActionPause sends SIGSTOP at the start of the phase and SIGCONT at
	// its end.
	ActionPause = "pause"
	// ActionRestart sends SIGTERM (a graceful drain) at the start of the
	// phase and starts the service again as soon as it has exited.
	ActionRestart = "restart"
)

// Actions returns the actions a ProcessFault accepts.
func Actions() []string { return []string{ActionKill, ActionPause, ActionRestart} }

// maxRestartAfter bounds RestartAfter, to catch unit typos.
const maxRestartAfter = time.Hour

// ProcessFault kills, pauses or restarts one service process.
type ProcessFault struct {
	// Service is one of Services.
	Service string `json:"service"`
	// Action is one of Actions.
	Action string `json:"action"`
	// RestartAfter, for ActionKill only, is how long after the kill the
	// service is started again; 0 means at the end of the phase.
	RestartAfter time.Duration `json:"restart_after,omitempty"`
}

// String describes the fault in one stable line.
func (f ProcessFault) String() string {
	s := fmt.Sprintf("process %s %s", f.Service, f.Action)
	if f.RestartAfter != 0 {
		s += " restart_after=" + f.RestartAfter.String()
	}
	return s
}

// problems returns everything wrong with f.
func (f ProcessFault) problems() []FieldError {
	p := problems{prefix: KindProcess}
	checkService(&p, f.Service)
	switch {
	case f.Action == "":
		p.add("action", Actions(), "action is missing: say what happens to the process")
	case !slices.Contains(Actions(), f.Action):
		p.add("action", Actions(), "unknown action %q", f.Action)
	}
	switch {
	case f.RestartAfter == 0:
	case f.Action != ActionKill:
		p.add("restart_after", nil, "restart_after applies to kill only: %s ends with the phase", f.Action)
	case f.RestartAfter < 0 || f.RestartAfter > maxRestartAfter:
		p.add("restart_after", nil, "restart_after %s: must be from 0 (at the end of the phase) to %s", f.RestartAfter, maxRestartAfter)
	}
	return p.list
}

// checkService records a problem when service is not one of Services.
func checkService(p *problems, service string) {
	switch {
	case service == "":
		p.add("service", Services(), "service is missing: name the service the fault is on")
	case !slices.Contains(Services(), service):
		p.add("service", Services(), "unknown service %q", service)
	}
}
