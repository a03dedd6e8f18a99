package server

import (
	"context"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/task"
)

// taskState holds the background task runner of a running server.
type taskState struct {
	r      *task.Runner
	cancel context.CancelFunc
	done   chan error
}

// newTasks makes the runner the API creates tasks with; startTasks runs it.
func (s *Server) newTasks() *task.Runner {
	s.tasks.r = task.New(task.Config{
		Store:  s.store,
		Node:   hookd.IDGen{Now: s.now}.New("node_"),
		Now:    s.now,
		IDs:    hookd.IDGen{Now: s.now},
		Logger: s.log,
		Lease:  s.cfg.TaskLease,
	})
	return s.tasks.r
}

// startTasks starts claiming and running background tasks, until stopTasks.
func (s *Server) startTasks() {
	ctx, cancel := context.WithCancel(context.Background())
	s.tasks.cancel = cancel
	s.tasks.done = make(chan error, 1)
	go func() { s.tasks.done <- s.tasks.r.Run(ctx) }()
}

// stopTasks stops the runner; a task in progress gives its lease back, to be resumed
// at the next start or by another node.
func (s *Server) stopTasks() {
	if s.tasks.cancel == nil {
		return
	}
	s.tasks.cancel()
	if err := <-s.tasks.done; err != nil {
		s.log.Error("background tasks stopped", "err", err)
	}
	s.tasks.cancel = nil
}
