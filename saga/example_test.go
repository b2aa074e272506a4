package saga_test

import (
	"context"
	"fmt"
	"time"

	"github.com/txcio/txc/saga"
)

type reservation struct {
	SKU string `json:"sku"`
	N   int    `json:"n"`
}

func ExampleDefine() {
	reserve := saga.Func(func(ctx context.Context, r *saga.Request, in reservation) (map[string]string, error) {
		// r.Key is stable across retries and recovery: use it to make the
		// reservation idempotent.
		return map[string]string{"id": "res-" + r.Key}, nil
	})
	release := saga.Func(func(ctx context.Context, r *saga.Request, in struct{ ID string }) (any, error) {
		return nil, nil // must succeed when nothing was reserved
	})
	def, err := saga.Define("order").
		Recovery(saga.Forward).
		Step(saga.Step("reserve").Func(reserve).
			Input(map[string]any{"sku": saga.FromInput("sku"), "n": saga.FromInput("qty")}).
			Retry(saga.RetryRule{Errors: []string{saga.ErrNameUnavailable}, Interval: 100 * time.Millisecond, MaxAttempts: 3}).
			Timeout(5*time.Second).
			CompensateFunc(release).CompensateInput(map[string]any{"id": "$.step.output.id"})).
		Parallel("notify",
			saga.Step("mail").Call("mail.send").Input(map[string]any{"reservation": saga.FromOutput("reserve", "id")}),
			saga.Step("sms").Call("sms.send")).
		Step(saga.Step("charge").Call("payment.charge").Compensate("payment.refund")).
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(def.Name(), def.Recovery(), def.Services())
	// Output: order Forward [mail.send order.reserve order.reserve.compensation payment.charge payment.refund sms.send]
}
