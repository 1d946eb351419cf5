import EventLoop
import Testing

@Suite struct EventFDTests {
    @Test func signalsAccumulateAndDrainResets() throws {
        let event = try EventFD()
        #expect(event.drain() == nil)
        event.signal()
        event.signal(4)
        #expect(event.drain() == 5)
        #expect(event.drain() == nil)
    }
}
