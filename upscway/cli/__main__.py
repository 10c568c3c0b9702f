from upscway.cli.main import main

main()
