"""The image domain: what each model accepts, validation before spending, prices, the
image work (on the image pool, off the event loop) and the request and result types."""
