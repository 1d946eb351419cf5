import Launcher
import Testing

/// `Pipeline` driven with fake steps that record what they set up and undo.
@Suite struct PipelineTests {
    struct StepFailed: Error, Equatable {
        let step: String
    }

    /// A record of set-ups and undos, and the fake steps that write it.
    final class Journal {
        var entries: [String] = []

        /// Steps named `names`; the one named `failing` throws `StepFailed` from its set-up.
        func steps(_ names: [String], failing: String? = nil) -> [PipelineStep<StepFailed>] {
            names.map { name in
                PipelineStep(
                    name,
                    setUp: { () throws(StepFailed) in
                        self.entries.append("set up \(name)")
                        if name == failing { throw StepFailed(step: name) }
                    },
                    undo: { self.entries.append("undo \(name)") })
            }
        }
    }

    @Test func stepsAreSetUpInOrderThenUndoneInReverseOnce() throws {
        let journal = Journal()
        let pipeline = Pipeline(journal.steps(["a", "b", "c"]))
        #expect(pipeline.names == ["a", "b", "c"])
        try pipeline.run()
        #expect(journal.entries == ["set up a", "set up b", "set up c", "undo c", "undo b", "undo a"])
        #expect(pipeline.standingNames.isEmpty)
        pipeline.tearDown()
        #expect(journal.entries.count == 6, "a second teardown undoes nothing")
    }

    @Test(arguments: 0..<4)
    func aFailureAtStepKUndoesTheStepsBeforeItInReverse(k: Int) {
        let names = ["signals", "network", "endpoint", "machine"]
        let journal = Journal()
        let pipeline = Pipeline(journal.steps(names, failing: names[k]))
        #expect(throws: StepFailed(step: names[k])) { try pipeline.run() }
        let setUps = names[...k].map { "set up \($0)" }
        let undos = names[..<k].reversed().map { "undo \($0)" }
        #expect(journal.entries == setUps + undos, "step \(k) failed: no later step starts, \(names[k]) is not undone")
        pipeline.tearDown()
        #expect(journal.entries == setUps + undos, "a second teardown undoes nothing")
    }

    @Test func setUpLeavesTheStepsStandingUntilTheTeardown() throws {
        let journal = Journal()
        let pipeline = Pipeline(journal.steps(["a", "b"]))
        try pipeline.setUp()
        #expect(pipeline.standingNames == ["a", "b"])
        #expect(journal.entries == ["set up a", "set up b"])
        pipeline.tearDown()
        pipeline.tearDown()
        #expect(journal.entries == ["set up a", "set up b", "undo b", "undo a"])
    }

    @Test func aStepsUndoRunsOnlyOnceItWasSetUp() {
        let journal = Journal()
        let pipeline = Pipeline(journal.steps(["only"], failing: "only"))
        #expect(throws: StepFailed(step: "only")) { try pipeline.run() }
        #expect(journal.entries == ["set up only"])
    }

    @Test func anEmptyPipelineRuns() throws {
        let pipeline = Pipeline<StepFailed>([])
        try pipeline.run()
        #expect(pipeline.names.isEmpty)
    }
}
