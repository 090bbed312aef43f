print("my-svc")
