package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var taskColumns = cols("ID", "id", "TASK", "task", "STATUS", "status", "DATA", "data", "UPDATED", "updatedAt")

func newTaskCmd() *cobra.Command {
	var status, kind string
	cmd := groupCmd("task", "Inspect background tasks (recover, replay-missing, bulk-replay)", `  hookd task list --status running
  hookd task get qtask_…`,
		newAPICmd(apiSpec{
			use: "list", short: "List the background tasks of the past 90 days", list: true,
			flags: func(fs *pflag.FlagSet) {
				fs.StringVar(&status, "status", "", "only tasks with this status: running, finished or failed")
				fs.StringVar(&kind, "task", "", "only tasks of this kind, e.g. endpoint.recover")
			},
			example: `  hookd task list --status running --json`,
			run: func(r *apiRun) error {
				q := url.Values{}
				if status != "" {
					q.Set("status", status)
				}
				if kind != "" {
					q.Set("task", kind)
				}
				return r.printList("/api/v1/background-task", q, taskColumns)
			},
		}),
		newAPICmd(apiSpec{
			use: "get TASK", short: "Show one background task and its progress", args: cobra.ExactArgs(1),
			example: `  hookd task get qtask_1srOrx2ZWZBpBUvZwXKQmoEYga2`,
			run: func(r *apiRun) error {
				data, err := r.c.do(r.cmd.Context(), "GET", "/api/v1/background-task/"+pathEscape(r.args[0]), nil, nil)
				if err != nil {
					return err
				}
				return r.printOne(data, taskColumns)
			},
		}),
	)
	cmd.Aliases = []string{"background-task"}
	return cmd
}

// taskPollInterval is how often --wait asks how a task is going.
const taskPollInterval = 500 * time.Millisecond

// startedTask prints the task an operation started, or with wait follows it to its
// end, reporting its progress on stderr; a failed task exits 1.
func (r *apiRun) startedTask(data []byte, wait bool) error {
	if !wait {
		return r.printOne(data, cols("TASK", "id", "STATUS", "status", "KIND", "task"))
	}
	var t struct {
		ID     string          `json:"id"`
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := jsonUnmarshal(data, &t); err != nil {
		return err
	}
	last := ""
	for {
		data, err := r.c.do(r.cmd.Context(), "GET", "/api/v1/background-task/"+pathEscape(t.ID), nil, nil)
		if err != nil {
			return err
		}
		if err := jsonUnmarshal(data, &t); err != nil {
			return err
		}
		if now := t.Status + " " + string(t.Data); now != last {
			progress(r.cmd, "task %s %s %s", t.ID, t.Status, t.Data)
			last = now
		}
		if t.Status != "running" {
			if err := r.printOne(data, taskColumns); err != nil {
				return err
			}
			if t.Status == "failed" {
				return withCode(exitFailure, fmt.Errorf("task %s failed: %s", t.ID, t.Data))
			}
			return nil
		}
		select {
		case <-time.After(taskPollInterval):
		case <-r.cmd.Context().Done():
			return withCode(exitError, fmt.Errorf("stopped waiting; the task %s goes on (hookd task get %s)", t.ID, t.ID))
		}
	}
}
