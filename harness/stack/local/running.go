package local

import "maps"

// Running reports whether the latest recorded process of service is running
// (a paused process is running). It lets the fault injector's rollback
// restart only the services a crashed run left dead.
func (l *Lab) Running(service string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.st.proc(service)
	return ok && l.st.Procs[i].Alive()
}

// Overrides returns the flags service runs with beyond its lab defaults, as
// the state records them (nil: its defaults). It lets the fault injector's
// rollback restore the defaults of a service that a crashed run left with
// a scenario's knobs.
func (l *Lab) Overrides(service string) map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.st.Overrides[service])
}
