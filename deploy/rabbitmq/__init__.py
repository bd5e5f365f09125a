"""RabbitMQ definitions and configuration for docker compose and Kubernetes."""
