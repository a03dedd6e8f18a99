package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	svix "github.com/svix/svix-webhooks/go"
	"github.com/svix/svix-webhooks/go/models"
)

const petSpecYAML = `
openapi: 3.1.0
info:
  title: Webhook Example
  version: 1.0.0
webhooks:
  pet.new:
    post:
      description: A new pet
      requestBody:
        content:
          application/json:
            schema:
              $ref: "#/components/schemas/Pet"
      responses:
        "200":
          description: ok
  pet.gone:
    post:
      summary: A pet left
      deprecated: true
      responses:
        "200":
          description: ok
components:
  schemas:
    Pet:
      required: [id, name]
      properties:
        id: {type: integer}
        name: {type: string}
`

// TestEventTypeOpenAPI imports an event type catalogue kept as an OpenAPI webhooks
// section through the SDK, exports it again and imports the export.
func TestEventTypeOpenAPI(t *testing.T) {
	ts := startServer(t)
	c, ctx := ts.client, t.Context()
	if _, err := c.EventType.Create(ctx, svix.EventTypeIn{Name: "old.type", Description: "not in the spec"}, nil); err != nil {
		t.Fatal(err)
	}
	dry, err := c.EventType.ImportOpenapi(ctx, models.EventTypeImportOpenApiIn{SpecRaw: ptr(petSpecYAML), DryRun: ptr(true)}, nil)
	if err != nil || len(dry.Data.Modified) != 0 || len(dry.Data.ToModify) != 2 || dry.Data.ToModify[0].Name != "pet.gone" {
		t.Fatalf("dry run = %+v, %v", dry, err)
	}
	if _, err := c.EventType.Get(ctx, "pet.new"); status(err) != http.StatusNotFound {
		t.Fatalf("a dry run created pet.new: %v", err)
	}
	out, err := c.EventType.ImportOpenapi(ctx, models.EventTypeImportOpenApiIn{SpecRaw: ptr(petSpecYAML), ReplaceAll: ptr(true)}, nil)
	if err != nil || !slices.Equal(out.Data.Modified, []string{"pet.gone", "pet.new", "old.type"}) {
		t.Fatalf("import = %+v, %v", out, err)
	}
	pet, err := c.EventType.Get(ctx, "pet.new")
	if err != nil || pet.Description != "A new pet" || pet.Schemas == nil {
		t.Fatalf("pet.new = %+v, %v", pet, err)
	}
	schema, _ := json.Marshal((*pet.Schemas)["1"])
	if !strings.Contains(string(schema), `"required":["id","name"]`) || strings.Contains(string(schema), "$ref") {
		t.Errorf("pet.new schema = %s, want the Pet schema inlined", schema)
	}
	if gone, err := c.EventType.Get(ctx, "pet.gone"); err != nil || !gone.Deprecated || gone.Description != "A pet left" {
		t.Errorf("pet.gone = %+v, %v", gone, err)
	}
	if old, err := c.EventType.Get(ctx, "old.type"); err != nil || old.Archived == nil || !*old.Archived {
		t.Errorf("old.type = %+v, %v; want archived by replaceAll", old, err)
	}

	// Export: a finished sdk.generate task holding the document.
	code, b := ts.raw(t, "POST", "/api/v1/event-type/export/openapi", "")
	var task struct{ ID, Status, Task string }
	if code != http.StatusAccepted || json.Unmarshal(b, &task) != nil || task.Status != "finished" || task.Task != "sdk.generate" {
		t.Fatalf("export = %d %s", code, b)
	}
	done, err := c.BackgroundTask.Get(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	doc, ok := done.Data["openapi"].(map[string]any)
	hooks, _ := doc["webhooks"].(map[string]any)
	if !ok || len(hooks) != 2 || hooks["pet.new"] == nil || hooks["old.type"] != nil {
		t.Fatalf("exported document = %v, want pet.new and pet.gone", done.Data)
	}
	// The export imports back unchanged.
	again, err := c.EventType.ImportOpenapi(ctx, models.EventTypeImportOpenApiIn{Spec: &doc}, nil)
	if err != nil || !slices.Equal(again.Data.Modified, []string{"pet.gone", "pet.new"}) {
		t.Fatalf("import of the export = %+v, %v", again, err)
	}
	if back, err := c.EventType.Get(ctx, "pet.new"); err != nil || back.Description != "A new pet" {
		t.Fatalf("pet.new after the round trip = %+v, %v", back, err)
	}

	for _, tt := range []struct {
		body string
		code int
	}{
		{`{}`, 400},
		{`{"spec":{"webhooks":{}},"specRaw":"x"}`, 400},
		{`{"specRaw":"{{{"}`, 422},
		{`{"spec":{"openapi":"3.1.0"}}`, 422},
		{`{"spec":{"webhooks":{"bad name":{"post":{}}}}}`, 422},
		{`{"spec":{"webhooks":{"a.b":{"post":{"requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/Missing"}}}}}}}}}`, 422},
	} {
		if code, b := ts.raw(t, "POST", "/api/v1/event-type/import/openapi", tt.body); code != tt.code {
			t.Errorf("import %s = %d %s, want %d", tt.body, code, b, tt.code)
		}
	}
}
