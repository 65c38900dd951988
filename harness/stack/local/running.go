package local

import "maps"

// Running reports whether the latest recorded process of service is running
// (a paused process is running): each replica's, for a service with
// replicas. It lets the fault injector's rollback restart only the services
// a crashed run left dead.
func (l *Lab) Running(service string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, name := range l.st.members(service) {
		i, ok := l.st.proc(name)
		if !ok || !l.st.Procs[i].Alive() {
			return false
		}
	}
	return true
}

// Overrides returns the flags service runs with beyond its lab defaults, as
// the state records them (nil: its defaults; for a service with replicas,
// its first replica's). It lets the fault injector's rollback restore the
// defaults of a service that a crashed run left with a scenario's knobs.
func (l *Lab) Overrides(service string) map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.st.Overrides[l.st.members(service)[0]])
}
