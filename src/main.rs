fn main() {
    println!("kafka-sandbox {}", sandbox_core::VERSION);
}
