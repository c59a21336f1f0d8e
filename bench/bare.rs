//! The framework's ceiling: a bare actix-web handler answering the same bytes as blog-api's
//! `GET /api/v1/posts/{id}`, with the same worker count.
//!   bare ADDR BODY_FILE WORKERS

use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let body = web::Bytes::from(std::fs::read(&args[2])?);
    let workers: usize = args[3].parse().expect("a worker count");
    HttpServer::new(move || {
        let body = body.clone();
        App::new().route(
            "/bare",
            web::get().to(move || {
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }),
        )
    })
    .workers(workers)
    .bind(&args[1])?
    .run()
    .await
}
