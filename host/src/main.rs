fn main() {
    println!("host: not yet");
}
