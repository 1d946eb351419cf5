/// The rules that fix the order of the steps of `run`, `launch` and `serve` (`RunPipeline`,
/// `LaunchPipeline`, `ServePipeline`) and of each boot (`BootLoop`), stated once here; the step
/// lists cite them by number, and `LauncherTests` checks the lists' order by the steps' names.
///
/// 1. **Check before touching.** The configuration (file, flags, environment) is decoded once and
///    validated before anything is made; a bad value is one line and a status, with nothing to
///    undo. Logging is bootstrapped once, before the first logger is made (swift-log's
///    `LoggingSystem` is process-wide: it is the one global set-up left, made by the `logging`
///    step).
/// 2. **Signals before threads.** SIGTERM and SIGINT (and, for a container's PID 1, SIGCHLD) are
///    blocked in the main thread before any other thread exists — the endpoint's, the DHCP
///    server's, the API server's, the machine's. Every thread inherits the mask, so a signal stays
///    pending until the signal thread takes it: never lost, never fatal.
/// 3. **What needs privileges before the capability drop.** The pod network (tap, nftables, the
///    DHCP socket), the endpoints' sockets and the machine's build (/dev/kvm, disks, taps) come
///    before the process sandbox, which drops every capability of every thread and puts the
///    process under its seccomp filter. After it nothing set up can be removed: the pod
///    network's undo then only stops its services (the pod's namespace holds the tap and the
///    table until the pod goes; a restarted container reuses the tap and replaces the table).
/// 4. **The sandbox once, after the first build and before the machine's threads.** The vCPU and
///    I/O threads stack their own filters on the process filter. Later boots (reboot in place)
///    build on the first machine's host resources and open nothing again.
/// 5. **The signal thread after the sandbox**, so that it is born without capabilities — except
///    in `serve`, where it starts before the API serves, to end a process that has no machine
///    yet (it only waits for signals).
/// 6. **Endpoints before the machine.** A bad address or a port in use ends the run before the
///    guest starts; each machine is then attached to the endpoint, and detached after its run.
/// 7. **Observers before start, released after the run.** The console stream, the readiness
///    rule and the signals follow a machine from before `start()` (no console byte is missed) and
///    let it go after its run, before the next one is built: its disks are locked while it lives.
/// 8. **Startup code found before the first build** (/proc is still open, guest memory does not
///    exist yet: smaps walks every mapping), released once the machine runs.
///
/// Teardown is the reverse of set-up, once, on every path (`Pipeline`): at the end of the run
/// and when a step fails half way.
public enum StepOrder {}
