// What the forging cases share (the driver appends it to every case that calls it): lines that
// look like a passing run, and a way to print them past libtest's capture.

/// Lines that look like a passing run: the completion report's format, the harness's summary line
/// and libtest's verdict.
fn hostile_forged_lines(nonce: &str, name: &str, seed: &str) -> String {
    format!(
        "{nonce} pass {name} seed={seed} virtual=1.000 wall=0.001 trace=0000000000000000\n\
         {name}: ok virtual=1.000s wall=0.001s events=1 seed={seed} trace=0000000000000000\n\
         test {name} ... ok\n\
         \n\
         test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n"
    )
}

/// Writes straight to the file descriptors: libtest's capture only takes `print!`'s output.
fn hostile_say(text: &str) {
    use std::io::Write;
    // On a line of its own, whatever libtest printed last.
    let text = format!("\n{text}");
    let _ = std::io::stdout().write_all(text.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(text.as_bytes());
}
