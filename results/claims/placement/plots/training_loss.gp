set terminal pngcairo size 900,560 font ',11'
set output 'results/claims/placement/plots/training_loss.png.tmp'
set title 'cifar-cnn: training loss, BN before vs after ReLU (each at its chosen rate)'
set xlabel 'step'
set ylabel 'training loss (mean of 20 steps)'
set key top right
set grid
plot 'results/claims/placement/plots/training_loss.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'before (lr 0.01)', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'after (lr 0.01)'
