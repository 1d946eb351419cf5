// Intentionally empty: the header declares libFuzzer symbols (SwiftPM needs one source file).
