package local

// Running reports whether the latest recorded process of service is running
// (a paused process is running). It lets the fault injector's rollback
// restart only the services a crashed run left dead.
func (l *Lab) Running(service string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.st.proc(service)
	return ok && l.st.Procs[i].Alive()
}
