/// A named step of a `Pipeline`: what it sets up, and how that is undone.
public struct PipelineStep<Failure: Error> {
    /// The step's name (log lines, tests of the order).
    public let name: String
    let setUp: () throws(Failure) -> Void
    let undo: () -> Void

    /// A step that runs `setUp` and, once it succeeded, `undo` when the pipeline tears down.
    public init(_ name: String, setUp: @escaping () throws(Failure) -> Void, undo: @escaping () -> Void = {}) {
        self.name = name
        self.setUp = setUp
        self.undo = undo
    }
}

/// An ordered list of steps with undo: `run()` sets them up in order and undoes the ones set up
/// in reverse — after the last step returned (the run's end), or as soon as one fails (its error
/// is thrown after the undo). Both go through `tearDown()`, which undoes each step once.
///
/// `run`, `launch` and `serve` are such lists (`RunPipeline`, `LaunchPipeline`, `ServePipeline`),
/// and each boot of a machine is one too (`BootLoop`); the rules that fix their order are
/// `StepOrder`'s.
public final class Pipeline<Failure: Error> {
    /// The steps, in the order they are set up.
    public let steps: [PipelineStep<Failure>]
    /// The steps set up and not undone yet, in the order they were set up.
    private var standing: [PipelineStep<Failure>] = []
    private var started = false

    public init(_ steps: [PipelineStep<Failure>]) {
        self.steps = steps
    }

    /// The steps' names, in order.
    public var names: [String] { steps.map(\.name) }

    /// The names of the steps set up and not undone yet, in order.
    public var standingNames: [String] { standing.map(\.name) }

    /// Sets every step up in order, then tears them all down in reverse. When a step fails, the
    /// ones before it are torn down in reverse and its error is thrown.
    public func run() throws(Failure) {
        defer { tearDown() }
        try setUp()
    }

    /// Sets every step up in order (once); when one fails, tears down the ones before it, in
    /// reverse, and throws its error. What stands afterwards is undone by `tearDown()`.
    public func setUp() throws(Failure) {
        precondition(!started, "a pipeline runs once")
        started = true
        for step in steps {
            do {
                try step.setUp()
            } catch {
                tearDown()
                throw error
            }
            standing.append(step)
        }
    }

    /// Undoes the steps that stand, last first; each step is undone once, so a second call does
    /// nothing.
    public func tearDown() {
        while let step = standing.popLast() { step.undo() }
    }
}
