package hookd

import (
	"context"
	"fmt"
	"time"
)

// operationalAppName is the name of the application OperationalApp creates.
const operationalAppName = "hookd operational webhooks"

// AppFinder is the part of an AppStore that OperationalApp needs.
type AppFinder interface {
	App(ctx context.Context, idOrUID string) (*Application, error)
	CreateApp(ctx context.Context, app *Application) error
}

// OperationalApp returns the application that carries operational webhooks (UID
// OperationalAppUID), creating it on first use. Its endpoints are the operator's
// operational webhook endpoints: the one --operational-webhook-url sets up and those
// made through /api/v1/operational-webhook/endpoint. Nodes creating it at once agree
// on one.
func OperationalApp(ctx context.Context, apps AppFinder, ids IDGen, now time.Time) (*Application, error) {
	app, err := apps.App(ctx, OperationalAppUID)
	if IsNotFound(err) {
		app = &Application{ID: ids.New(PrefixApp), UID: OperationalAppUID, Name: operationalAppName, CreatedAt: now, UpdatedAt: now}
		if err = apps.CreateApp(ctx, app); IsConflict(err) {
			app, err = apps.App(ctx, OperationalAppUID) // another node made it
		}
	}
	if err != nil {
		return nil, fmt.Errorf("operational application: %w", err)
	}
	return app, nil
}
