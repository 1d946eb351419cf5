// Intentionally empty: CEventLoop only exports headers (SwiftPM needs one source file).
